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
EXPOSE 80
# Port 80 and TGI's flags, so the chart's tgi partial deploys it unchanged. Like
# TGI's own image it runs as root: binding port 80 as another user depends on
# the runtime's ip_unprivileged_port_start, which not every cluster lowers.
ENTRYPOINT ["tgictl", "sim", "--host", "0.0.0.0", "--port", "80"]
