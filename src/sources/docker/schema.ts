/** Config of the `docker` source, and the sample block `sluice generate` prints for it. */
import { s, type InferFields } from '../../config/schema.js';
import { pollingFields, pollingSample } from '../polling/index.js';

export const DEFAULT_SOCKET = '/var/run/docker.sock';

export const schema = s.object(
  {
    ...pollingFields(10_000),
    socket: s.string({
      doc:
        "Path of the Docker Engine API's Unix socket. When it is missing or refuses connections, the " +
        'collection is empty, counted and warned about, and the next interval tries again.',
      default: DEFAULT_SOCKET,
      pattern: /^\//,
      patternHint: 'an absolute path such as "/var/run/docker.sock"',
    }),
    timeout: s.duration({
      doc: 'Deadline of one API request (the ping, the container list, or one container’s statistics).',
      default: 5_000,
      minMs: 1,
    }),
    concurrency: s.number({
      doc: 'How many containers’ statistics are requested at the same time.',
      default: 4,
      min: 1,
      max: 64,
      integer: true,
    }),
    include_names: s.array(s.pattern(), {
      doc: 'Only containers whose name matches one of these globs or /regexes/ are reported ([] = all).',
      default: [],
    }),
    exclude_names: s.array(s.pattern(), {
      doc: 'Containers whose name matches one of these globs or /regexes/ are not reported.',
      default: [],
    }),
    labels: s.array(s.pattern(), {
      doc:
        'Container labels copied to every metric of the container as tags (tag name = label key). ' +
        'Globs or /regexes/ matched against the label key; [] copies none.',
      default: [],
    }),
  },
  { allowKeys: ['type'] },
);

export type DockerConfig = InferFields<typeof schema.fields>;

export const sample = `  docker:
    type: docker
${pollingSample('10s')}
    # The Docker Engine API's Unix socket. Absent or refusing connections (no daemon, a
    # daemon restarting): the collection is empty, counted (sluice_docker_unavailable) and
    # warned about at most every 5 minutes; each interval tries again.
    socket: /var/run/docker.sock
    # Deadline of one API request: the ping, the container list, one container's statistics.
    timeout: 5s
    # How many containers' statistics are requested at the same time.
    concurrency: 4
    # Container names (without Docker's leading /), as globs ('web-*') or /regexes/. A
    # container is reported when it matches an include pattern (or include_names is []) and
    # no exclude pattern.
    include_names: []
    exclude_names: []
    # Container labels copied as tags onto the container's metrics, the tag named after the
    # label key; globs or /regexes/ on the key (e.g. [com.docker.compose.service, 'app.*']).
    # Every distinct label value makes new series: copy labels with few values.
    labels: []
`;
