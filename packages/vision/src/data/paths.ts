import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const pkgRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The real Fashion-MNIST subset shipped with the package (5000 train / 1000 test). */
export function bundledFashionMnistDir(): string {
  return join(pkgRoot, 'data', 'fashion-mnist-small');
}

/** Where Debian's dataset-fashion-mnist package installs the full set (60000 / 10000). */
export function debianFashionMnistDir(): string {
  return '/usr/share/datasets/fashion-mnist';
}
