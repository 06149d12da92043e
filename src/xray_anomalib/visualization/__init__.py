"""Pictures of films and heatmaps: anomalib's visualizer for any film encoding, and preprocessing contact sheets."""

from xray_anomalib.visualization.film_visualizer import FilmVisualizer, FilmVisualizerMixin

__all__ = ["FilmVisualizer", "FilmVisualizerMixin"]
