# One image for every Tessera service (the command picks which); Node 24 LTS, non-root.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY proto/package.json proto/
COPY services/platform/package.json services/platform/
COPY services/identity/package.json services/identity/
COPY services/session/package.json services/session/
COPY services/chat/package.json services/chat/
COPY services/quota/package.json services/quota/
COPY services/admin/package.json services/admin/
COPY services/bff/package.json services/bff/
COPY web/package.json web/
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build -w web && npm prune --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=node:node /app /app
USER node
# SERVICE is one of identity, session, chat, quota, admin, bff.
ENV SERVICE=bff
EXPOSE 8080 50051 50052 50053 50054 50055 9101 9102 9103 9104 9105
# deploy/service.sh sets every service's runtime (V8 heap sizes, malloc arenas) and execs node.
CMD ["sh", "-c", "exec sh deploy/service.sh \"$SERVICE\""]
