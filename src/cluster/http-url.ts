/** The URL a listener on `host` and `port` answers at (an IPv6 address in brackets). */
export const httpUrl = (host: string, port: number) => `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
