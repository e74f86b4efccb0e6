FROM python:3.11-slim
WORKDIR /srv/pasture
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
COPY seed_tasks ./seed_tasks
RUN pip install --no-cache-dir -e '.[service]'
ENV PASTURE_HOST=0.0.0.0 PASTURE_PORT=8000
EXPOSE 8000
CMD ["pasture", "serve"]
