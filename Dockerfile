# GPU image: CUDA PyTorch base; scripts/run.sh sees its CUDA torch and keeps it.
FROM pytorch/pytorch:2.7.1-cuda12.6-cudnn9-runtime

WORKDIR /app
COPY pyproject.toml README.md ./
COPY forecast ./forecast
COPY conf ./conf
COPY scripts ./scripts
COPY tests ./tests
COPY data/README.md ./data/README.md

# Set up once at build time (venv over the image's CUDA torch, package + test deps).
RUN bash scripts/run.sh --help

# Runs write data/, outputs/ and mlflow.db under /work (mount a volume there).
WORKDIR /work
ENV FORECAST_VENV=/app/.venv
ENTRYPOINT []
CMD ["bash", "/app/scripts/run.sh", "demo", "trainer=gpu"]
