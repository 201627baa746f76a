import { BlockList, isIP } from "node:net";

/** Addresses inside an installation: this host, link-local (cloud metadata), private and cluster ranges, and the like. */
const INSIDE = new BlockList();
for (const [network, prefix] of [
  ["0.0.0.0", 8], // "this network"
  ["10.0.0.0", 8], // private (and most clusters' pod and service ranges)
  ["100.64.0.0", 10], // carrier-grade NAT (some clusters' ranges)
  ["127.0.0.0", 8], // loopback
  ["169.254.0.0", 16], // link-local: cloud metadata at 169.254.169.254
  ["172.16.0.0", 12], // private
  ["192.0.0.0", 24], // IETF protocol assignments
  ["192.168.0.0", 16], // private
  ["198.18.0.0", 15], // benchmarking
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, broadcast
] as const) {
  INSIDE.addSubnet(network, prefix, "ipv4");
}
for (const [network, prefix] of [
  ["::", 128], // unspecified
  ["::1", 128], // loopback
  ["fc00::", 7], // unique local
  ["fe80::", 10], // link-local
  ["ff00::", 8], // multicast
] as const) {
  INSIDE.addSubnet(network, prefix, "ipv6");
}
// Kept apart: Node's BlockList matches IPv4 addresses against IPv4-mapped IPv6 rules.
const EMBEDS_IPV4 = new BlockList();
EMBEDS_IPV4.addSubnet("::ffff:0:0", 96, "ipv6"); // IPv4-mapped
EMBEDS_IPV4.addSubnet("64:ff9b::", 96, "ipv6"); // NAT64

/** "ipv4" or "ipv6" for an IP address literal (no brackets). */
export const ipFamilyOf = (address: string): "ipv4" | "ipv6" => (isIP(address) === 6 ? "ipv6" : "ipv4");

/**
 * Whether an IP address is inside an installation (loopback, link-local, private, carrier-grade
 * NAT, multicast, reserved). An IPv6 address that carries an IPv4 one counts as inside unless it
 * is written ::ffff:a.b.c.d with a public a.b.c.d (as sockets report IPv4 clients).
 */
export function isInternalAddress(address: string): boolean {
  const family = ipFamilyOf(address);
  if (family === "ipv6" && EMBEDS_IPV4.check(address, "ipv6")) {
    // Sockets report IPv4 clients of a dual-stack server as ::ffff:a.b.c.d: judge the IPv4 address.
    const dotted = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address)?.[1];
    return dotted ? INSIDE.check(dotted, "ipv4") : true;
  }
  return INSIDE.check(address, family);
}
