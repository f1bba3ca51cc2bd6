"""What the bot announces by itself (promotions, rollbacks, alerts) as plain events, and the notifier
assembled from settings that renders and posts them in every configured place."""
