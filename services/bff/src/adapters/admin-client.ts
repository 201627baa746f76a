import { AdminServiceService } from "@tessera/proto/tessera/admin/v1/admin";
import { createGrpcClient, type GrpcClient } from "@tessera/platform";

export type AdminClient = GrpcClient<typeof AdminServiceService>;

export function createAdminClient(options: { address: string; internalToken: string }): AdminClient {
  return createGrpcClient(AdminServiceService, { name: "admin", address: options.address, internalToken: options.internalToken });
}
