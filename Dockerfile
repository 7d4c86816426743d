# embeddings-server: OpenAI-compatible /v1/embeddings on CPU.
#
#   docker build -t embeddings-server .                                  # models mounted at run time
#   docker build --build-arg DOWNLOAD_MODELS=1 -t embeddings-server .    # models baked into the image
#   docker run -p 8000:8000 -v "$PWD/artifacts:/app/artifacts:ro" embeddings-server
FROM node:20-slim

ENV NODE_ENV=production \
    ONNXRUNTIME_NODE_INSTALL=skip \
    HOST=0.0.0.0 \
    PORT=8000 \
    ARTIFACTS_DIR=/app/artifacts \
    MODELS_FILE=/app/models.txt

WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev && npm cache clean --force
COPY tsconfig.json models.txt ./
COPY src ./src
COPY scripts ./scripts

# Optional: fetch the models of models.txt while building (needs the Hub or HF_ENDPOINT).
ARG DOWNLOAD_MODELS=0
ARG HF_ENDPOINT=https://huggingface.co
RUN mkdir -p /app/artifacts && if [ "$DOWNLOAD_MODELS" = "1" ]; then HF_ENDPOINT="$HF_ENDPOINT" npm run download; fi \
    && chown -R node:node /app/artifacts

USER node
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=120s --retries=3 \
    CMD node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# node is PID 1 and handles SIGTERM itself: it drains in-flight requests, then exits 0.
CMD ["node", "--import", "tsx", "src/server.ts"]
