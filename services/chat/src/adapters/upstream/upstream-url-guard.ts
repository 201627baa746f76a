import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from "node:dns";
import { BlockList, isIP } from "node:net";
import { ipFamilyOf as typeOf, isInternalAddress as isInside } from "@tessera/platform";
import { Agent } from "undici";
import type { UpstreamUrlGuard } from "../../domain/provider.ts";
import type { UpstreamRequestInit, UpstreamResponse } from "./openai-compatible-gateway.ts";

const bare = (hostname: string) => hostname.replace(/^\[|\]$/g, "").toLowerCase();

export class UpstreamAddressRefused extends Error {
  constructor(host: string) {
    super(`upstream host ${host} resolves to an internal address`);
  }
}

/**
 * Keeps upstream URLs from reaching inside the installation (SSRF). A host is refused when it is,
 * or resolves to, an internal address, unless UPSTREAM_ALLOWED_HOSTS names it (a host name or IP)
 * or an allowed address range (CIDR) holds every address it resolves to. The check runs when a
 * provider is saved and again on every connection (the resolved address is the one connected to,
 * so a DNS answer that changes in between does not slip through); redirects are never followed.
 */
export function createUpstreamUrlGuard(options: { allowedHosts: string[]; lookup?: typeof dnsLookup }): UpstreamUrlGuard & {
  request(url: string, init: UpstreamRequestInit): Promise<UpstreamResponse>;
  close(): Promise<void>;
} {
  const lookup = options.lookup ?? dnsLookup;
  const allowedNames = new Set<string>();
  const allowedRanges = new BlockList();
  for (const entry of options.allowedHosts.map((host) => host.trim()).filter(Boolean)) {
    const [address, prefix] = entry.split("/");
    if (address && isIP(bare(address))) {
      const type = typeOf(bare(address));
      allowedRanges.addSubnet(bare(address), prefix ? Number(prefix) : type === "ipv6" ? 128 : 32, type);
    } else allowedNames.add(bare(entry));
  }
  const addressAllowed = (address: string) => !isInside(address) || allowedRanges.check(address, typeOf(address));

  const resolveAll = (hostname: string): Promise<LookupAddress[]> =>
    new Promise((resolve, reject) =>
      lookup(hostname, { all: true, verbatim: true } satisfies LookupAllOptions, (error, addresses) => (error ? reject(error) : resolve(addresses))),
    );

  /** Why a host may not be used, or null. */
  async function hostRefusal(hostname: string): Promise<string | null> {
    const host = bare(hostname);
    if (allowedNames.has(host)) return null;
    if (isIP(host))
      return addressAllowed(host) ? null : "This address is inside the installation's network; ask the operator to allow it (UPSTREAM_ALLOWED_HOSTS).";
    let addresses: LookupAddress[];
    try {
      addresses = await resolveAll(host);
    } catch {
      return "This host name does not resolve.";
    }
    if (addresses.length === 0) return "This host name does not resolve.";
    if (addresses.some((entry) => !addressAllowed(entry.address)))
      return "This host resolves to an address inside the installation's network; ask the operator to allow it (UPSTREAM_ALLOWED_HOSTS).";
    return null;
  }

  // Every connection resolves through here: the addresses checked are the addresses connected to.
  const agent = new Agent({
    connect: {
      lookup(hostname: string, lookupOptions: object, callback: (error: Error | null, address: string | LookupAddress[], family?: number) => void) {
        const all = (lookupOptions as { all?: boolean }).all === true;
        resolveAll(hostname).then(
          (addresses) => {
            if (!allowedNames.has(bare(hostname)) && (addresses.length === 0 || addresses.some((entry) => !addressAllowed(entry.address)))) {
              callback(new UpstreamAddressRefused(hostname), all ? [] : "", 4);
              return;
            }
            if (all) callback(null, addresses);
            else callback(null, addresses[0]!.address, addresses[0]!.family);
          },
          (error: Error) => callback(error, all ? [] : "", 4),
        );
      },
    },
  });

  return {
    async refusal(baseUrl) {
      let url: URL;
      try {
        url = new URL(baseUrl);
      } catch {
        return "Not a URL.";
      }
      if (url.protocol !== "http:" && url.protocol !== "https:") return "Use an http(s) URL.";
      if (url.username || url.password) return "Put credentials in the API keys, not in the URL.";
      return hostRefusal(url.hostname);
    },
    // undici's request API rather than fetch: no WHATWG streams per chunk, and it never follows redirects.
    async request(target, init) {
      const url = new URL(target);
      // An IP literal is connected to without any lookup: check it here.
      const host = bare(url.hostname);
      if (isIP(host) && !allowedNames.has(host) && !addressAllowed(host)) throw new UpstreamAddressRefused(host);
      const response = await agent.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: init.method as "POST",
        headers: init.headers,
        ...(init.body === undefined ? {} : { body: init.body }),
        signal: init.signal,
      });
      return {
        status: response.statusCode,
        header(name) {
          const value = response.headers[name.toLowerCase()];
          return Array.isArray(value) ? value[0] : value;
        },
        body: response.body,
        discard: () => response.body.dump().catch(() => undefined),
      };
    },
    close: () => agent.close(),
  };
}
