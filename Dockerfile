# The dashboard on port 8501, with chromium for static figure export (kaleido).
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends chromium make gcc g++ \
    && rm -rf /var/lib/apt/lists/*
ENV BROWSER_PATH=/usr/bin/chromium PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt requirements-runtime.txt ./
# PyRadiomics 3.0.1 builds against the installed numpy (DESIGN.md).
RUN pip install --no-cache-dir numpy==2.4.6 versioneer setuptools wheel \
    && pip install --no-cache-dir --no-build-isolation -r requirements.txt
COPY . .
# the engine as an installed package (the hcc-study command; importable from any folder, e.g. by Dask workers)
RUN pip install --no-cache-dir --no-deps --no-build-isolation .
EXPOSE 8501
# healthy once the dashboard answers (the demo trained, the libraries imported): compose starts the proxy only then
HEALTHCHECK --start-period=600s --interval=5s --timeout=5s --retries=3 CMD python -c \
    "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"
# the demo, then the dashboard ready for its first analysts (libraries imported, one session opened: dashboard/serve.py)
CMD python -m engine demo && exec python -m dashboard.serve --server.address 0.0.0.0 --server.port 8501 \
    --server.headless true
