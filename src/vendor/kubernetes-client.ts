/**
 * The parts of @kubernetes/client-node that discovery uses, from one place.
 *
 * `npm run build` replaces this module's output with one esbuild bundle of just these
 * (scripts/bundle-vendor.mjs): the package is some 970 ES modules, and Node reading
 * them one by one cost `check` 0.6-1.0 s of its start; the bundle loads in a fifth of
 * that, and opens one file where the loader opened hundreds side by side. Under tsx
 * (tests) this file is what runs, so tests see the package itself.
 */
export {
  AppsV1Api,
  type ConfigurationOptions,
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  makeInformer,
  Observable,
  type RequestContext,
  type ResponseContext,
  VersionApi,
} from '@kubernetes/client-node';
