FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY kendali kendali
COPY flows flows
COPY sources sources
COPY sinks sinks
COPY detectors detectors
COPY geo geo
COPY api api
COPY benchmarks benchmarks
COPY cities cities
RUN pip install --no-cache-dir .
ENV KENDALI_CITY=/app/cities/balikpapan
USER nobody
