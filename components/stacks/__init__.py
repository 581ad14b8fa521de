"""What a Pulumi program does with its stack, for every target: its releases and promotion, its recorded history."""
