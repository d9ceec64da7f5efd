/** Config of the `console` sink, and the sample block `sluice generate` prints for it. */
import { s, type InferFields } from '../../config/schema.js';

export const FORMATS = ['text', 'influx', 'json'] as const;
export type ConsoleFormat = (typeof FORMATS)[number];

export const schema = s.object(
  {
    format: s.oneOf(FORMATS, {
      doc:
        'How each metric is printed: text (one readable line per metric), influx (InfluxDB line ' +
        'protocol) or json (one JSON object per line).',
      default: 'text',
    }),
  },
  { allowKeys: ['type'] },
);

export type ConsoleConfig = InferFields<typeof schema.fields>;

export const sample = `  console:
    type: console
    # How each metric is printed on stdout, one line per metric:
    # text (readable), influx (InfluxDB line protocol) or json (one object per line).
    format: text
`;
