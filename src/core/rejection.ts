/** A rejected input line kept for inspection (the status page, the rejection warning). */
export interface RejectedLine<R extends string = string> {
  readonly reason: R;
  /** The line, decoded (invalid UTF-8 as U+FFFD) and cut to the log's byte limit, a cut marked `…`. */
  readonly line: string;
  /** Who sent it, when the source knows: `udp://10.0.0.7:41234`, `tcp://…`, `unix:///run/…`. */
  readonly from?: string;
  /** When it was rejected (ms since the epoch), when the source says. */
  readonly at?: number;
}
