/**
 * Reads one socket's row out of Linux's `/proc/net/udp` or `/proc/net/udp6` (proc(5)): how many
 * bytes wait in its receive queue, and how many datagrams the kernel dropped for it. Pure: the
 * caller reads the file. A header line, then one row per socket:
 *
 *     sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
 *   5260: 0100007F:1FBD 00000000:0000 07 00000000:00001E00 00:00000000 00000000     0        0 12394 2 0000000046d445b1 44
 *
 * The header names 15 columns but a row has 13 whitespace-separated fields, because
 * `tx_queue:rx_queue` and `tr:tm->when` are printed joined by a colon. udp6 rows have 32 hex
 * digits per address and the same fields.
 */

/** A UDP socket's receive side as the kernel reports it. */
export interface UdpSocketQueue {
  /** Receive buffer memory in use by datagrams not yet read (kernel accounting, with overhead). */
  readonly rxQueueBytes: number;
  /** Datagrams dropped for this socket since it was created, mostly because its buffer was full. */
  readonly drops: number;
}

/** Zero-based field positions within a row. */
const QUEUES_FIELD = 4;
const INODE_FIELD = 9;
const DROPS_FIELD = 12;

const SPACE = 0x20;
const TAB = 0x09;
const NEWLINE = 0x0a;
const COLON = 0x3a;

/**
 * The queue and drop counts of the socket with this inode, or undefined when no well-formed row
 * has it. Never throws: any text is accepted, unexpected rows are skipped.
 */
export function findUdpSocket(table: string, inode: number): UdpSocketQueue | undefined {
  if (!Number.isSafeInteger(inode) || inode < 0) return undefined;
  const wanted = String(inode);
  // The first line is the header.
  let lineStart = table.indexOf('\n') + 1;
  if (lineStart === 0) return undefined;
  while (lineStart < table.length) {
    let lineEnd = table.indexOf('\n', lineStart);
    if (lineEnd < 0) lineEnd = table.length;
    const found = matchRow(table, lineStart, lineEnd, wanted);
    if (found !== undefined) return found === NOT_WELL_FORMED ? undefined : found;
    lineStart = lineEnd + 1;
  }
  return undefined;
}

const NOT_WELL_FORMED = 'not well formed';

/**
 * Looks at one row in place (no split, no substrings): undefined if it is another socket's,
 * NOT_WELL_FORMED if it is this inode's but cannot be read, else its counts.
 */
function matchRow(
  text: string,
  start: number,
  end: number,
  inode: string,
): UdpSocketQueue | typeof NOT_WELL_FORMED | undefined {
  let field = 0;
  let queuesStart = -1;
  let queuesEnd = -1;
  let dropsStart = -1;
  let dropsEnd = -1;
  let i = start;
  while (i < end) {
    while (i < end && isBlank(text.charCodeAt(i))) i++;
    if (i >= end) break;
    const fieldStart = i;
    while (i < end && !isBlank(text.charCodeAt(i))) i++;
    if (field === QUEUES_FIELD) {
      queuesStart = fieldStart;
      queuesEnd = i;
    } else if (field === INODE_FIELD) {
      // Most rows are other sockets': give up on them as soon as the inode differs.
      if (i - fieldStart !== inode.length || !text.startsWith(inode, fieldStart)) return undefined;
    } else if (field === DROPS_FIELD) {
      dropsStart = fieldStart;
      dropsEnd = i;
    }
    field++;
  }
  if (field <= DROPS_FIELD) return field > INODE_FIELD ? NOT_WELL_FORMED : undefined;
  let colon = queuesStart;
  while (colon < queuesEnd && text.charCodeAt(colon) !== COLON) colon++;
  const rxQueueBytes = parseDigits(text, colon + 1, queuesEnd, 16);
  const drops = parseDigits(text, dropsStart, dropsEnd, 10);
  if (rxQueueBytes < 0 || drops < 0) return NOT_WELL_FORMED;
  return { rxQueueBytes, drops };
}

function isBlank(c: number): boolean {
  return c === SPACE || c === TAB || c === NEWLINE || c === 0x0d;
}

/** The number written in `text[start, end)` in this base, or -1 if it is empty or not all digits. */
function parseDigits(text: string, start: number, end: number, base: 10 | 16): number {
  // The kernel prints at most 16 hex digits or 20 decimal ones; longer is not a counter.
  if (end <= start || end - start > 20) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const d = digitValue(text.charCodeAt(i));
    if (d < 0 || d >= base) return -1;
    n = n * base + d;
  }
  return Number.isSafeInteger(n) ? n : -1;
}

function digitValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}
