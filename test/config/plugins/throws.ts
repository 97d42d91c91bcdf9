// A plugin that fails as it is imported: the config that names it is refused in one line naming it.
const reason: string = 'no licence key in $MY_REWARD_KEY';
throw new Error(reason);
