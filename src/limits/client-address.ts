// The client a per-address limit counts: an IPv4 address, or an IPv6 address's /64 network, since
// one IPv6 host is routinely given a whole /64 and could otherwise start afresh from each address.
import { isIPv6 } from 'node:net';

const IPV4_MAPPED = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;

export function clientNetworkOf(address: string): string {
  const mapped = IPV4_MAPPED.exec(address);
  if (mapped) return mapped[1];
  const withoutZone = address.split('%')[0];
  if (!isIPv6(withoutZone)) return address;
  const [head, tail] = withoutZone.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  // Only the first four groups are kept, so an IPv4 tail counted as one group instead of two
  // cannot shift them.
  const zeros = tail === undefined ? [] : Array<string>(Math.max(0, 8 - headGroups.length - tailGroups.length)).fill('0');
  const groups = [...headGroups, ...zeros, ...tailGroups].slice(0, 4);
  return `${groups.map((group) => Number.parseInt(group, 16).toString(16)).join(':')}::/64`;
}
