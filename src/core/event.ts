/**
 * Events and service checks (DogStatsD's `_e{…}` and `_sc|…`): not measurements, so they travel
 * beside batches of metrics rather than inside them. Sinks that can carry them (console, Kafka,
 * JSON outputs) implement `Sink.writeEvents`; for the others the pipeline counts them as ignored.
 */
import type { Tags } from './tags.js';

interface EventBase {
  readonly tags: Tags;
  /** Milliseconds since the Unix epoch (the sender's `d:` timestamp, or arrival time). */
  readonly timestamp: number;
  /** The `h:` host name the sender gave, if any (the host tag is added by the pipeline). */
  readonly hostname?: string | undefined;
}

/** `_e{title_len,text_len}:title|text|d:ts|h:host|k:key|p:priority|s:source|t:alert_type|#tags` */
export interface AlertEvent extends EventBase {
  readonly kind: 'event';
  readonly title: string;
  readonly text: string;
  readonly aggregationKey?: string | undefined;
  readonly priority?: 'normal' | 'low' | undefined;
  readonly sourceType?: string | undefined;
  readonly alertType?: 'error' | 'warning' | 'info' | 'success' | undefined;
}

/** `_sc|name|status|d:ts|h:host|#tags|m:message`; status 0 OK, 1 warning, 2 critical, 3 unknown. */
export interface ServiceCheck extends EventBase {
  readonly kind: 'service_check';
  readonly name: string;
  readonly status: 0 | 1 | 2 | 3;
  readonly message?: string | undefined;
}

export type Event = AlertEvent | ServiceCheck;
