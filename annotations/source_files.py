from annotations.campaigns.source_files import *  # noqa: F403  the old path; the module lives in annotations/campaigns/
