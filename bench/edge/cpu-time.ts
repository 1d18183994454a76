/**
 * What a process has used so far, read from /proc on Linux: its CPU time (user + system) and its
 * minor page faults (pages it touched for the first time, or again after handing them back), so
 * a server's cost per request can be read whatever else is running on the machine. Undefined
 * where /proc is not available.
 */
import { readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ: 100 on every Linux architecture Node supports

export interface ProcessUsage {
  cpuMs: number;
  minorFaults: number;
}

export function processUsage(pid: number | undefined): ProcessUsage | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces, so split after its closing ')').
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
    return { cpuMs: (ticks * 1000) / TICKS_PER_SECOND, minorFaults: Number(fields[7]) }; // minflt: 10
  } catch {
    return undefined;
  }
}
