/**
 * Child-process entry for the local-servers test: node --import tsx local-server-parent.ts MODEL starts one local
 * rollout server, prints {"pid", "url"} and waits to be killed.
 */
import { startLocalServers } from '../../src/rollout/local-servers.ts';

const servers = await startLocalServers({ count: 1, model: process.argv[2], threads: 1 });
console.log(JSON.stringify({ pid: servers.pids[0], url: servers.urls[0] }));
setInterval(() => {}, 60_000);
