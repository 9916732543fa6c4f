import { networkInterfaces } from 'node:os';
import type { NetworkInterfaceInfo } from 'node:os';

/**
 * The name of the network interface that owns `address` (the local address of the connection),
 * e.g. `eth0` or `wlan0`, as nerves_hub_link reports it with `report_network_interface`.
 * IPv4-mapped IPv6 addresses (`::ffff:10.0.0.2`) are matched as IPv4. `undefined` when no
 * interface has the address.
 * @internal
 */
export function interfaceForAddress(
  address: string | undefined,
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces(),
): string | undefined {
  if (!address) return undefined;
  const wanted = address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '').toLowerCase();
  for (const [name, infos] of Object.entries(interfaces)) {
    if (infos?.some((info) => info.address.toLowerCase() === wanted)) return name;
  }
  return undefined;
}
