"""One small pure evaluator per rule kind, chosen by the rule's `type`."""
