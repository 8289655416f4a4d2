"""The Classify tab: top-k labels for dropped images, Grad-CAM and feature maps."""
