/** Process checks for the local-server tests (Linux's /proc where it helps). */
import { existsSync, readFileSync, readdirSync } from 'node:fs';

/** Whether `pid` is a live process (a zombie waiting for its reaper counts as gone). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return existsSync(`/proc/${pid}`) || !existsSync('/proc/self');
  }
}

/** Polls `what` every 100 ms for up to `ms`. */
export async function until(what: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100)))
    if (what()) return true;
  return what();
}

/** This process's live `grpo serve --exit-with-parent` children (local rollout servers), from /proc. */
export function localServerChildren(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8').split(') ')[1].split(' ');
      if (Number(stat[1]) !== process.pid || stat[0] === 'Z') continue;
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (cmd.includes('serve') && cmd.includes('--exit-with-parent')) pids.push(Number(name));
    } catch {
      /* gone while we looked */
    }
  }
  return pids;
}
