/** The zombie instance (zombie-instance.ts): where it is and what it writes to its log. */
export const ZOMBIE_ENTRY = new URL('./zombie-instance.ts', import.meta.url).pathname;

export const ZOMBIE_LOG = { stopping: 'zombie: stopping inside an open transaction', continued: 'zombie: continued' } as const;
