-- 006: a corpus figure and the mean of sentence scores never share a name (ft_core.runfolder.SENTENCE_COLUMNS).
-- Per item, BLEU and chrF are sentence scores, stored as sentence_bleu, sentence_sacrebleu, sentence_chrf,
-- sentence_chrfpp; campaigns imported before kept them under the corpus figures' names.
UPDATE metrics SET metric = 'sentence_' || metric WHERE metric IN ('bleu', 'sacrebleu', 'chrf', 'chrfpp');
