"""Models: plain nn.Modules (one per file), baselines, and one LightningModule that trains any of them."""
