"""The capacity planner and its service, above the engines: from a model's facts
(``tgictl.model``) and an engine's memory rule to limits, shards, cost and cold start."""
