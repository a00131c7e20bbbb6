--- KooDrive shares operations (issue 12: being written).
return {}
