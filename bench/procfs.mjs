// What the kernel knows about a receiver: its UDP socket's drop counter and queue (proc(5),
// /proc/net/udp), its CPU time (/proc/PID/stat), and the receive buffer limits.
import { readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

function clockTicks() {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}
const CLK_TCK = clockTicks();

/**
 * The /proc/net/udp rows of the sockets bound to 127.0.0.1:port (or 0.0.0.0:port), summed: with
 * SO_REUSEPORT several sockets (one per sluice worker) share the port, and the kernel drops on
 * each of them, so the drops and queued bytes of all of them are added. Columns:
 * sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ref
 * pointer drops; addresses are hex, the IPv4 address in host (little-endian) byte order.
 * Returns { drops, rxQueueBytes, inode (of the first row), sockets } or undefined when none.
 */
export function parseUdpTable(text, port) {
  const want = port.toString(16).toUpperCase().padStart(4, '0');
  const rows = text.split('\n');
  let found;
  for (let i = 1; i < rows.length; i++) {
    const cols = rows[i].trim().split(/\s+/);
    if (cols.length < 13) continue;
    const [addr, hexPort] = cols[1].split(':');
    if (hexPort !== want || (addr !== '0100007F' && addr !== '00000000')) continue;
    const drops = Number(cols[12]);
    const rxQueueBytes = parseInt(cols[4].split(':')[1], 16);
    if (found === undefined) found = { drops, rxQueueBytes, inode: Number(cols[9]), sockets: 1 };
    else {
      found.drops += drops;
      found.rxQueueBytes += rxQueueBytes;
      found.sockets++;
    }
  }
  return found;
}

export function udpSocket(port, file = '/proc/net/udp') {
  return parseUdpTable(readFileSync(file, 'utf8'), port);
}

/** User + system CPU seconds from the text of /proc/PID/stat (fields 14 and 15, in clock ticks). */
export function parseStatCpu(stat, clockTicks = CLK_TCK) {
  // The command name (field 2) may hold spaces and parentheses; the fields after the last ')' do not.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / clockTicks;
}

export function cpuSeconds(pid) {
  try {
    return parseStatCpu(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return NaN;
  }
}

export function readRmem() {
  const read = (name) => Number(readFileSync(`/proc/sys/net/core/${name}`, 'utf8').trim());
  return { max: read('rmem_max'), default: read('rmem_default') };
}

export function writeRmem(values) {
  writeFileSync('/proc/sys/net/core/rmem_max', `${values.max}\n`);
  writeFileSync('/proc/sys/net/core/rmem_default', `${values.default}\n`);
}

/**
 * The receive buffer the kernel actually gave the socket (`rb` in `ss -m`'s skmem), which is
 * twice the SO_RCVBUF request capped at rmem_max, or rmem_default when nothing was requested.
 * With several sockets on the port (SO_REUSEPORT), the sum of their buffers.
 */
export function socketRcvbuf(port) {
  try {
    return parseRcvbuf(execFileSync('ss', ['-uamnH', `sport = :${port}`], { encoding: 'utf8' }));
  } catch {
    return undefined;
  }
}

/** The `rb` fields of `ss -m` output (`skmem:(r0,rb8388608,t0,...)`), summed over its sockets. */
export function parseRcvbuf(ssOutput) {
  let sum;
  for (const m of ssOutput.matchAll(/\brb(\d+)/g)) sum = (sum ?? 0) + Number(m[1]);
  return sum;
}
