#!/usr/bin/env python3
"""Generate a large kustomization tree for `bench/render/run.sh`.

Usage: gen_tree.py OUTDIR [APPS]

OUTDIR/base holds APPS applications (default 250), each a Deployment, a Service and a
ConfigMap resource plus one generated ConfigMap (configMapGenerator) that the Deployment
references, so kustomize must hash names and rewrite references: 4 objects per app.
OUTDIR/overlay adds namePrefix, namespace, labels, another configMapGenerator and patches
(a strategic-merge patch selected by label on every Deployment, a JSON 6902 patch on every
Service) on top of the base. With the default 250 apps the overlay renders 1,000+ objects.

The output is deterministic: the same arguments always produce the same bytes.
"""

import os
import sys


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def app_resources(i):
    name = f"app-{i:04d}"
    tier = ("web", "api", "worker")[i % 3]
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels:
    app.kubernetes.io/name: {name}
    tier: {tier}
spec:
  replicas: {1 + i % 3}
  selector:
    matchLabels:
      app.kubernetes.io/name: {name}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {name}
        tier: {tier}
    spec:
      containers:
        - name: main
          image: registry.example/{name}:1.{i % 10}.0
          ports:
            - containerPort: 8080
          envFrom:
            - configMapRef:
                name: {name}-env
            - configMapRef:
                name: {name}-static
          resources:
            requests:
              cpu: 10m
              memory: 16Mi
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
  labels:
    app.kubernetes.io/name: {name}
spec:
  selector:
    app.kubernetes.io/name: {name}
  ports:
    - name: http
      port: 80
      targetPort: 8080
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}-static
data:
  INDEX: "{i}"
  TIER: {tier}
"""


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: gen_tree.py OUTDIR [APPS]")
    out = sys.argv[1]
    apps = int(sys.argv[2]) if len(sys.argv) > 2 else 250
    files_per_chunk = 25
    resources = []
    for chunk in range(0, apps, files_per_chunk):
        body = "---\n".join(app_resources(i) for i in range(chunk, min(chunk + files_per_chunk, apps)))
        fname = f"apps-{chunk // files_per_chunk:03d}.yaml"
        write(os.path.join(out, "base", fname), body)
        resources.append(fname)
    generators = "".join(
        f"""  - name: app-{i:04d}-env
    literals:
      - APP_INDEX={i}
      - LOG_LEVEL=info
"""
        for i in range(apps)
    )
    write(
        os.path.join(out, "base", "kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        + "labels:\n  - pairs:\n      app.kubernetes.io/part-of: bench\n"
        + "resources:\n"
        + "".join(f"  - {r}\n" for r in resources)
        + "configMapGenerator:\n"
        + generators,
    )
    write(
        os.path.join(out, "overlay", "deployment-patch.yaml"),
        """apiVersion: apps/v1
kind: Deployment
metadata:
  name: any
spec:
  template:
    spec:
      containers:
        - name: main
          resources:
            limits:
              memory: 64Mi
""",
    )
    write(
        os.path.join(out, "overlay", "kustomization.yaml"),
        """apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: bench
namePrefix: big-
labels:
  - pairs:
      environment: bench
resources:
  - ../base
configMapGenerator:
  - name: shared-settings
    literals:
      - REGION=westeurope
      - FEATURE_X=on
patches:
  - path: deployment-patch.yaml
    target:
      kind: Deployment
      labelSelector: app.kubernetes.io/part-of=bench
  - target:
      kind: Service
    patch: |-
      - op: add
        path: /metadata/annotations
        value:
          bench/patched: "true"
""",
    )


if __name__ == "__main__":
    main()
