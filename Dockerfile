# tgictl as a container: `tgictl sim` stands in for a GPU engine in a cluster
# (deploy it with the chart: image.repository=tgictl, engine.name=tgi), and the
# same image runs `tgictl smoke` / `tgictl bench` as a Job.
FROM python:3.11-slim
WORKDIR /src
COPY pyproject.toml README.md ./
COPY tgictl ./tgictl
COPY charts ./charts
RUN pip install --no-cache-dir .
# The installed package finds the chart here (render, deploy from inside the image).
ENV TGICTL_CHART=/src/charts/tgi
# The chart's tgi partial serves on 8080 (a port under 1024 needs a capability
# the hardened pod drops) and passes TGI's flags, which the simulator takes.
# Unlike TGI's image it needs no root: the tgi partial sets no UID, so the pod
# runs as this USER (set security.runAsNonRoot: true to have it checked).
EXPOSE 8080
USER 65532:65532
ENTRYPOINT ["tgictl", "sim", "--host", "0.0.0.0", "--port", "8080"]
