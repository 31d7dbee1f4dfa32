FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Tesseract and its language packs for the copy check (dam/checks/ocr.py): the list scripts/bootstrap.sh installs.
COPY tools/tessdata/apt-packages.txt /tmp/tesseract-packages.txt
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-noto-core fonts-noto-cjk libraqm0 libvips42 postgresql-client curl nodejs npm \
       $(cat /tmp/tesseract-packages.txt) \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# .tessdata/: Debian's packs linked, with the pinned tessdata_best_int models (tools/tessdata/install.sh), which
# the copy check reads (WITH_BEST_INT, SECOND_OPINION); without it the check reads with Debian's models alone.
RUN npm ci --prefix ui --no-audit --no-fund --loglevel=error \
    && npm ci --prefix tools/tessdata --no-audit --no-fund --loglevel=error \
    && bash tools/tessdata/install.sh /app/.tessdata \
    && DEBUG=1 python manage.py collectstatic --no-input -v 0
EXPOSE 8000 8765
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4"]
