/** Reading the exporter's /metrics text, without a full parser: one target's value. */

/** The value of imanager_port_up for the target at address:port, or undefined. */
export function portUp(text: string, address: string, port: number): string | undefined {
  // The identifying labels in their order (IDENTIFYING_LABELS): address, ip, port.
  const needle = `address="${address}",ip="${address}",port="${port}"`;
  let from = 0;
  for (;;) {
    const at = text.indexOf('imanager_port_up{', from);
    if (at < 0) return undefined;
    const end = text.indexOf('\n', at);
    const line = text.slice(at, end < 0 ? undefined : end);
    if (line.includes(needle)) return line.slice(line.lastIndexOf(' ') + 1);
    from = at + 1;
  }
}
