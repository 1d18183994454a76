/**
 * Common English words, each a single token in the usual BPE vocabularies, for servers that take
 * text only (chat endpoints, or completions without token-id prompts). A prompt of N words is then
 * about N tokens; the server's `usage.prompt_tokens` gives the exact count.
 */
export const WORDS: readonly string[] =
  `the of and to in is that for it as was with be by on not he this are or his
from at which but have an they you were her she there been one all we their has would when if so
no will more can who out about up them some could into than its time only other new then these two
may first any like now my such make over our even most after also did many before must through
back years where much your way well down should because each just those people how too little
state good very world still own see men work long here between both life being under never day
same another know while last might us great old year off come since against go came right used
take three states himself few house use during without again place around however home small
found thought went say part once general high upon school every course does better next war
city four left always side end point water fact group money often line order number sense open
power case night best book light kind turn real near keep body read field music plan rate road
air hand form game early car major study week bring black white green blue red cold hot fast slow
quick true false early late young full short hard easy clear free human local whole public sure
able above across after among area art ask away bed bird boat bread build call card care carry
cause chair change child choose class close color cook cost count cover cross cut dance dark deep
door draw dream dress drink drive drop earth east eat edge egg energy enjoy enter even event`
    .split(/\s+/)
    .filter((word, i, all) => word && all.indexOf(word) === i);

/** Maps token ids to words deterministically, so text prompts follow the same seeded draw. */
export const wordsFor = (tokenIds: readonly number[]): string =>
  tokenIds.map((id) => WORDS[id % WORDS.length]).join(' ');
