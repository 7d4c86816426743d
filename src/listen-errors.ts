/**
 * A listen failure as the operator can act on it: which setting names the port or address, and
 * what to change. Node's own message (`listen EADDRINUSE: address already in use 127.0.0.1:8000`)
 * names neither.
 */
export function explainListenError(error: NodeJS.ErrnoException, portSetting: 'PORT' | 'METRICS_PORT', host: string, port: number): Error {
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const settings = `${portSetting}=${port}, HOST=${host}`;
  switch (error.code) {
    case 'EADDRINUSE':
      return new Error(`cannot listen on ${where} (${settings}): another process is using that port; stop it or choose another ${portSetting}`);
    case 'EACCES':
      return new Error(`cannot listen on ${where} (${settings}): ports below 1024 need privileges; choose a ${portSetting} of 1024 or above`);
    case 'EADDRNOTAVAIL':
      return new Error(`cannot listen on ${where} (${settings}): no network interface of this machine has that address; set HOST to one of its addresses, or 0.0.0.0`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new Error(`cannot listen on ${where} (${settings}): the host name ${host} does not resolve; set HOST to an IP address or a resolvable name`);
    default:
      return error;
  }
}
