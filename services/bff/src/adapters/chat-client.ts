import { ChatServiceService } from "@tessera/proto/tessera/chat/v1/chat";
import { createGrpcClient, type GrpcClient } from "@tessera/platform";

export type ChatClient = GrpcClient<typeof ChatServiceService>;

export function createChatClient(options: { address: string; internalToken: string }): ChatClient {
  return createGrpcClient(ChatServiceService, { name: "chat", address: options.address, internalToken: options.internalToken });
}
