// Calls back when the config file changes on disk. The folder is watched, not the file: editors
// and ConfigMap updates replace the file (a rename), which a watch on the old inode never sees.
// Changes are debounced so that one save (often several writes) is one reload.
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';

export interface ConfigWatcher {
  close(): void;
}

export function watchConfigFile(file: string, onChange: () => void, debounceMs = 300): ConfigWatcher {
  const folder = path.dirname(file);
  const name = path.basename(file);
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(folder, (_event, changed) => {
      // Kubernetes ConfigMaps swap a "..data" symlink; any change in the folder may be ours.
      if (changed !== null && changed !== name && !String(changed).startsWith('..')) return;
      clearTimeout(timer);
      timer = setTimeout(onChange, debounceMs);
      timer.unref();
    });
    watcher.on('error', () => undefined);
  } catch {
    // A folder that cannot be watched: SIGHUP and the admin endpoint still reload.
  }
  return {
    close() {
      clearTimeout(timer);
      watcher?.close();
    },
  };
}
