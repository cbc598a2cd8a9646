"""Geographic data shipped with the product: Peru's region outlines (GeoJSON, MPL-2.0) and their build script."""
