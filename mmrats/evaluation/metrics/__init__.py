"""mmengine metrics registered in the mmrats scope."""
from .part_discovery_metric import PartDiscoveryMetric

__all__ = ['PartDiscoveryMetric']
