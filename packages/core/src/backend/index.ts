export { initBackend, registerBackend, registeredBackends, activeBackend, BACKEND_NAMES } from './registry.js';
export type { BackendName, InitBackendOptions } from './registry.js';
