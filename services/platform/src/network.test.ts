import { describe, expect, it } from "vitest";
import { isInternalAddress } from "./network.ts";

describe("isInternalAddress", () => {
  it("knows loopback, link-local, private and cluster ranges from public addresses", () => {
    for (const address of ["127.0.0.1", "169.254.169.254", "10.96.0.1", "172.20.1.1", "192.168.0.1", "100.64.3.4", "0.0.0.0", "::1", "fe80::1", "fd12::1", "::ffff:127.0.0.1", "::ffff:7f00:1", "64:ff9b::a9fe:a9fe"]) {
      expect(isInternalAddress(address), address).toBe(true);
    }
    for (const address of ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"]) expect(isInternalAddress(address), address).toBe(false);
  });
});
