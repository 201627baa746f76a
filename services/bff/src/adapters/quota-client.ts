import { QuotaServiceService } from "@tessera/proto/tessera/quota/v1/quota";
import { createGrpcClient, type GrpcClient } from "@tessera/platform";

export type QuotaClient = GrpcClient<typeof QuotaServiceService>;

export function createQuotaClient(options: { address: string; internalToken: string }): QuotaClient {
  return createGrpcClient(QuotaServiceService, { name: "quota", address: options.address, internalToken: options.internalToken });
}
