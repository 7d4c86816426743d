# syntax=docker/dockerfile:1
# embeddings-server: OpenAI-compatible /v1/embeddings and rerank on CPU, compiled to JavaScript, run by plain node.
#
#   docker build -t embeddings-server .                          # models of models.txt baked in (default target)
#   docker build --secret id=hf_token,env=HF_TOKEN -t embeddings-server .   # gated/private models
#   docker build --target server -t embeddings-server:bare .     # no models: mount them at /app/artifacts
#   docker run -p 8000:8000 -p 9100:9100 -e API_KEYS=sk-... embeddings-server
#
# The base is pinned by digest (update: docker buildx imagetools inspect node:22-slim); NODE_IMAGE
# overrides it (scripts/container-check.sh builds on a local stand-in). The project itself runs on Node >= 20.
ARG NODE_IMAGE=node:22-slim@sha256:83f487e0a63425e5b4d146fb5e5be574bcbe1b7b843d3ebafdd95eaf7767a7e5

# Dependencies, pruned to what the server loads on linux/x64 (other platforms' onnxruntime binaries are ~220 MB).
FROM ${NODE_IMAGE} AS deps
ENV ONNXRUNTIME_NODE_INSTALL=skip
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force \
    && rm -rf node_modules/onnxruntime-node/bin/napi-v*/darwin node_modules/onnxruntime-node/bin/napi-v*/win32 \
       node_modules/onnxruntime-node/bin/napi-v*/linux/arm64 \
    && find node_modules/tokenizers -name 'tokenizers.*.node' ! -name "tokenizers.linux-$(uname -m | sed 's/x86_64/x64/;s/aarch64/arm64/')-gnu.node" -delete

# TypeScript → JavaScript: nothing compiles at run time, so nothing writes to /tmp (read-only root works).
FROM ${NODE_IMAGE} AS build
ENV ONNXRUNTIME_NODE_INSTALL=skip
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts ./scripts
RUN npm run build
# The download script alone, bundled: the models stage gets only this file, so it changes only when the download code does.
RUN npx esbuild scripts/download.ts --bundle --platform=node --format=esm --packages=external --outfile=download/download.mjs

# The models of models.txt. Only models.txt and the bundled download script feed this stage (a COPY's
# cache follows the copied files' content), so editing the server's source does not download again.
# HF_TOKEN comes as a build secret, never as a layer.
FROM deps AS models
COPY models.txt ./
COPY --from=build /app/download ./download
ARG HF_ENDPOINT=https://huggingface.co
RUN --mount=type=secret,id=hf_token,required=false \
    HF_TOKEN="$(cat /run/secrets/hf_token 2>/dev/null || true)" HF_ENDPOINT="$HF_ENDPOINT" \
    MODELS_FILE=/app/models.txt ARTIFACTS_DIR=/app/artifacts node download/download.mjs

# The server without models (mount them at ARTIFACTS_DIR).
FROM ${NODE_IMAGE} AS server
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    METRICS_PORT=9100 \
    ARTIFACTS_DIR=/app/artifacts \
    MODELS_FILE=/app/models.txt
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json models.txt ./
USER node
EXPOSE 8000 9100
# /ready needs no key, so the check works with API_KEYS set.
HEALTHCHECK --interval=15s --timeout=3s --start-period=120s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.PORT+'/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node is PID 1 (the cluster's primary): on SIGTERM every HTTP process drains, then it exits 0.
CMD ["node", "dist/src/server.js"]

# Default: the server with its models baked in.
FROM server AS server-with-models
COPY --from=models --chown=node:node /app/artifacts ./artifacts
