# ragline: API and ingest worker image. CPU-only torch by default; the default embedding model ships inside.
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 HF_HUB_OFFLINE=1
WORKDIR /app
# torch first, from the CPU index: the largest layer, cached across code changes.
RUN pip install --index-url https://download.pytorch.org/whl/cpu "torch==2.13.0"
COPY pyproject.toml README.md ./
COPY rag ./rag
COPY ingest ./ingest
RUN pip install . && useradd --create-home --uid 10001 ragline && mkdir -p /data /inbox && chown ragline /data
USER ragline
ENV RAGLINE_DATA_DIR=/data
# Export and quantize the default embedder to ONNX now, not at the first start.
RUN python -c "from rag.wiring import make_embedder; from rag.config import Settings; make_embedder(Settings()).encode(['ok'])"
EXPOSE 8000
CMD ["rag", "serve", "--host", "0.0.0.0", "--port", "8000"]
