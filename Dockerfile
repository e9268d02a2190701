# seqctl in a container: the tick every minute, as a user without privileges.
#   docker build -t seqctl .
#   docker run -v "$PWD/acme-playbooks:/playbooks" --env-file secrets.env seqctl
# The mounted folder is the playbook repository (seqctl.yaml, playbooks/, the database).
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY seqctl ./seqctl
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.12-slim
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin seqctl
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER seqctl
WORKDIR /playbooks
ENV PYTHONUNBUFFERED=1 SEQCTL_LOG_FORMAT=json
STOPSIGNAL SIGTERM
ENTRYPOINT ["seqctl"]
# Ticks every minute and stops between two ticks on `docker stop`.
CMD ["tick", "--every", "60s"]
