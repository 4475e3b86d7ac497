# Loads every gemspec under specifications/ with RubyGems itself
# (Gem::Specification.load evaluates the file) and prints name, version,
# platform and licences: the expectations of the gemspec tests.
# Run: ruby gem_specs.rb > specifications.json
require "json"
require "rubygems"

here = __dir__
out = Dir.glob(File.join(here, "specifications", "**", "*.gemspec")).sort.map do |f|
  s = Gem::Specification.load(f)
  { "path" => "/" + f.delete_prefix(here + "/"), "name" => s.name, "version" => s.version.to_s,
    "platform" => s.platform.to_s, "licenses" => s.licenses }
end
puts JSON.pretty_generate(out)
