# syntax=docker/dockerfile:1
# Two images from one file:
#   docker build --target server -t ioc-monitor/server .   (FastAPI, psycopg, the console; no torch)
#   docker build --target edge   -t ioc-monitor/edge .     (OpenCV, ultralytics, onnxruntime)

# The console's front-end libraries (uPlot, Leaflet, marker clusters) from the npm registry at the
# versions of server/web/package-lock.json; the server image takes only node_modules (no Node.js).
FROM node:20-bookworm-slim AS console-libs
WORKDIR /web
COPY server/web/package.json server/web/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error \
    && test -f node_modules/uplot/dist/uPlot.iife.min.js \
    && test -f node_modules/leaflet/dist/leaflet.js \
    && test -f node_modules/leaflet.markercluster/dist/leaflet.markercluster.js

FROM python:3.11-slim-bookworm AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN groupadd --system ioc && useradd --system --gid ioc --home-dir /var/lib/ioc --create-home ioc
WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY contract ./contract
COPY ioc ./ioc

FROM base AS server
COPY server ./server
RUN pip install '.[server]'
# Served from server/web/node_modules beside the installed package (server/web/console.py), so the
# libraries go where pip put `server.web` (imported from / so that /app/server is not the one found).
COPY --from=console-libs /web/node_modules /tmp/node_modules
RUN web="$(cd / && python -c 'import pathlib, server.web; print(pathlib.Path(server.web.__file__).parent)')" \
    && rm -rf "$web/node_modules" && mv /tmp/node_modules "$web/node_modules" \
    && test -f "$web/node_modules/uplot/dist/uPlot.iife.min.js"
COPY streams.yaml /etc/ioc/streams.yaml
ENV IOC_CONFIG=/etc/ioc/streams.yaml IOC_HOST=0.0.0.0 IOC_PORT=8080 IOC_SNAPSHOT_DIR=/var/lib/ioc/snapshots
USER ioc
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=4).status == 200 else 1)"
CMD ["ioc", "server"]

FROM base AS edge
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*
COPY edge ./edge
# CPU-only torch keeps the image small; pick a CUDA wheel index for GPU hosts.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch torchvision \
    && pip install '.[edge]'
COPY models /app/models
COPY streams.yaml /etc/ioc/streams.yaml
ENV IOC_CONFIG=/etc/ioc/streams.yaml YOLO_OFFLINE=1 YOLO_AUTOINSTALL=0 YOLO_CONFIG_DIR=/var/lib/ioc/ultralytics \
    IOC_SPOOL_DIR=/var/lib/ioc/spool IOC_SNAPSHOT_DIR=/var/lib/ioc/snapshots
USER ioc
CMD ["ioc", "edge"]
